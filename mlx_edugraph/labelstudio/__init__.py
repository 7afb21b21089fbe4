"""The round trip with Label Studio: tasks and a labeling config out, annotations back in."""
