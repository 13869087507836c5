from cadenza.cli import main

main()
