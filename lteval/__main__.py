from lteval.cli import main

main()
