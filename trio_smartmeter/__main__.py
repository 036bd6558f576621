from trio_smartmeter.cli.entry import main

raise SystemExit(main())
