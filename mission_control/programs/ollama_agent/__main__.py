import sys

from mission_control.programs.ollama_agent import main

raise SystemExit(main(sys.argv[1:]))
