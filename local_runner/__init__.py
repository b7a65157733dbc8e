"""A small local host for `function_app.app`: HTTP triggers, queue triggers and queue/table output bindings on
Azurite, following the Azure Functions host's documented behaviour. Development only; never deployed."""
