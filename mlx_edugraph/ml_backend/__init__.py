"""The model as a Label Studio ML backend (`serve-labelstudio`): the protocol's HTTP app, the one
model thread, predictions from the labeling batch, and annotations in as reviews."""
