from cdrflow.cli.app import app

app(prog_name="cdrflow")
