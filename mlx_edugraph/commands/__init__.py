"""One module per `mlx-edugraph` subcommand (`configure_parser(parser)` and `main(args)`), beside
what they share: `context` (store, ontology, model, errors) and `server_options`."""
