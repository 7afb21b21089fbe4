"""One module per `mlx-edugraph` subcommand (`configure_parser(parser)` and `main(args)`), beside
the option helpers they share (`input_options`, `server_options`, `eval_inputs`)."""
