"""Entry point kept from the seed: `python scripts/manage.py run`."""
from embedding_server.cli import main

if __name__ == "__main__":
    main()
