"""Pictures of the graph and a step-through of backward; both only read the graph.

    >>> from autograd import viz
    >>> viz.to_dot(loss)                   # DOT text, no Graphviz needed
    >>> viz.draw(loss)                     # a graphviz.Digraph, shown inline in Jupyter
    >>> stepper = viz.BackwardStepper(loss)
    >>> stepper.step()                     # one node of backward: a StepRecord
    >>> print(stepper)                     # the trace so far
"""

from .dot import draw, to_dot
from .stepper import BackwardStepper, StepRecord

__all__ = ["BackwardStepper", "StepRecord", "draw", "to_dot"]
