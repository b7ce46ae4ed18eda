"""The component contract: what the engine gives a job and what it takes back.

Given: ``CO_DATA`` (inputs as ``key=value`` pairs), ``CO_<KEY>`` per input, the
flow's and job's environments, subscribed outputs, and the run's identity.
Taken: every output line; ``[COUT] KEY = value`` sets output KEY and
``[COUT] CO_RESULT = false`` is the component's verdict.
"""

from containerops.contract.codata import decode_co_data, encode_co_data, input_env_name
from containerops.contract.cout import OutputError, Outputs, parse_cout

__all__ = [
    "OutputError",
    "Outputs",
    "decode_co_data",
    "encode_co_data",
    "input_env_name",
    "parse_cout",
]
