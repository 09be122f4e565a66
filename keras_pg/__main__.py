import sys

from keras_pg.cli import main

sys.exit(main())
