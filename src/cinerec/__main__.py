from cinerec.program import entry

entry()
