from cryptoconsumer.cli import main

main()
