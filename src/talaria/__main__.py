from talaria.cli.main import entry

entry()
