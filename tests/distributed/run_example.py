"""``python run_example.py NAME ARGS...`` runs ``examples/NAME.py ARGS...`` as ``python
examples/NAME.py`` would, with the examples' digit classifier made small (256 digits, one epoch,
no cache: seconds instead of minutes for dcgan and cgan). test_examples_mpi.py starts it under
``mpiexec``."""
import functools
import os
import runpy
import sys

from minigan.gans import evaluation

evaluation.digit_classifier = functools.partial(evaluation.digit_classifier, n_train=256,
                                                n_test=64, epochs=1, cache=False)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                    f"{sys.argv[1]}.py")
sys.argv = [path] + sys.argv[2:]
runpy.run_path(path, run_name="__main__")
