"""Routing configs in Portkey's schema: retries, fallbacks, load balancing, conditions,
timeouts and a response cache (schema.py parses, plan.py decides, runner.py acts)."""
