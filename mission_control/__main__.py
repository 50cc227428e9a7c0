from mission_control.cli import main

raise SystemExit(main())
