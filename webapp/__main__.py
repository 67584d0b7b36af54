from webapp.main import main

main()
