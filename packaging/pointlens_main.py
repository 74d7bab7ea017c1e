"""Entry script for the frozen app (PyInstaller runs it as ``__main__``).

viewer/launch.py uses relative imports, which fail when a module is run as a top-level script,
so the bundle starts here and calls the same ``main`` as the ``pointlens`` console script.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()   # harmless unless a library spawns worker processes
    from viewer.launch import main

    sys.exit(main())
