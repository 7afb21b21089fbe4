"""How good the labels are: ground truth, the measures, two builds compared, and the reports."""
