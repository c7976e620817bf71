from packtwin.cli import main

raise SystemExit(main())
