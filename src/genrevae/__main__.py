from genrevae.cli import main

raise SystemExit(main())
