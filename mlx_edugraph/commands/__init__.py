"""One module per `mlx-edugraph` subcommand: `configure_parser(parser)` and `main(args)`."""
