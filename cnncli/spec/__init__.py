"""Reading a spec: YAML with source positions, validation, block expansion."""
from cnncli.spec.loader import Spec, load_spec, load_spec_text

__all__ = ["Spec", "load_spec", "load_spec_text"]
