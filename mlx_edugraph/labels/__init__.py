"""Stage 2, answer text -> labels: the EduGraph ontology and where it comes from, reading the
model's answer as labels checked against it, and each label's confidence."""
