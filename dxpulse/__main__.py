from dxpulse.cli import main

main()
