"""Stage 1, image file -> worksheet page: find files, read images and render PDF pages at
the model's resolution; generated sample worksheets for the demo, tests and benchmarks."""
