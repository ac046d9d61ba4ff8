"""What a reviewer and CI run: the offline runtime, render, diff, validate, key references,
the config docs, the bench, and the pinned releases, images and engine the validators and the
smoke test use. Never imported by the Pulumi program."""
