"""Use cases, each taking its ports: `upload` stores an image and makes its job, `worker` tags it, `library` is
everything its owner does with it afterwards (read, list, search, tag, retry, delete)."""
