"""``autograd.compile``: a training step traced once into a flat program of array
calls, replayed on later calls (see :mod:`autograd.tracer.step`)."""

from .program import Program
from .step import CompiledStep, CompileWarning, compile, run_opaque

__all__ = ["CompileWarning", "CompiledStep", "Program", "compile", "run_opaque"]
