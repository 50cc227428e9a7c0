"""Programs that run in the fleet's panes or for its agents, not in our services: the `launcher` every
agent runs under, the `hook_appender` agents' hooks call, the `demo` agents and the built-in Ollama
agent (`ollama_agent`). The launcher and the appender are started as files (`python -I -S FILE`) and
import nothing of the package."""
