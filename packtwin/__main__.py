from packtwin.cli import entry

raise SystemExit(entry())
