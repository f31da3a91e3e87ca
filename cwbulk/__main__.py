from cwbulk.cli import main

main()
