"""The Gradio web app: the shell (app), one module per tab, the Data tab's handlers and API, and the
`serve` command (cli). Only this package imports gradio."""
