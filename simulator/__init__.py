"""The simulator layer. Importing it registers the Gymnasium environment `acsim/Execution-v0`.

`acsim` is a namespace package with no `__init__` of its own, so this package, which every
simulation import goes through, is where the registration happens: after
`import acsim.simulator` (or any `from acsim.simulator... import ...`),
`gymnasium.make("acsim/Execution-v0")` and `gymnasium.make_vec("acsim/Execution-v0", 4096)`
work; `gymnasium.make("acsim.simulator.environment:acsim/Execution-v0")` works with no import
at all. The entry points are strings: the environment module itself (and the engine behind it)
is imported only when an environment is made. The command line's `--help` never imports this
package (a test checks it).
"""

from gymnasium.envs.registration import register, registry

ENVIRONMENT_ID = "acsim/Execution-v0"

if ENVIRONMENT_ID not in registry:
    register(id=ENVIRONMENT_ID, entry_point="acsim.simulator.environment:ExecutionEnv",
             vector_entry_point="acsim.simulator.environment:ExecutionVectorEnv")
