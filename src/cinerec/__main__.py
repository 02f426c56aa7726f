from cinerec.cli import entry

entry()
