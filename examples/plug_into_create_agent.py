"""Plug a saved experience library into an existing `create_agent` app.

Point OPENAI_BASE_URL at any OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama, OpenAI, DeepSeek).
"""

import os

from langchain.agents import create_agent
from langchain_openai import ChatOpenAI

from tfgrpo_agents import ExperienceMiddleware

model = ChatOpenAI(model=os.environ.get("MODEL", "qwen2.5-coder-1.5b-instruct"), temperature=0.3,
                   base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
                   api_key=os.environ.get("OPENAI_API_KEY", "not-needed"))
library = os.path.join(os.path.dirname(__file__), "libraries", "web_basics.json")
agent = create_agent(model, tools=[], system_prompt="You answer questions about websites.",
                     middleware=[ExperienceMiddleware(library)])  # re-read whenever the file changes
reply = agent.invoke({"messages": [{"role": "user", "content": "When is the paper deadline?"}]})
print(reply["messages"][-1].content)
