"""Build infrastructure: the pinned releases built from their Go modules (`make tools`), the
local images of them (`make images`) and the Docker engine the tests and the engine tier use.
The reviewer's offline tools live in review/, the program never imports this package."""
