"""``python -m loyalty_plugin ...``: the ``loyalty`` command, for any environment."""

from loyalty_plugin.cli import main

if __name__ == "__main__":
    main()
