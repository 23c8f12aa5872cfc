"""One gate for every action that changes what others get: train, stop, delete, set default, push.

On a public deployment (a Space, or DLAPP_TRAINING=off|private) a visitor needs the admin
password for each of them; whoever started a run may always stop it. Where a
password is set, it guards every deployment, public or not. With DLAPP_TRAINING=private
(a Space's default) anyone may train, since the model goes to the visitor's own session
folder and changes nothing others get; promoting it into the shared cache needs the password.
"""

from __future__ import annotations

import hmac
from typing import Literal

from .errors import PermissionDeniedError
from .settings import Settings

Action = Literal["train", "stop", "delete", "set_default", "push", "promote"]
_WHAT = {"train": "Training", "stop": "Stopping another visitor's training", "delete": "Deleting a model",
         "set_default": "Changing the default model", "push": "Pushing a model to the Hub",
         "promote": "Adding a model to the shared cache"}


def password_ok(given: str | None, settings: Settings) -> bool:
    return settings.admin_password is not None and hmac.compare_digest(
        (given or "").encode(), settings.admin_password.encode())


def authorize(action: Action, password: str | None, settings: Settings, *, owner: bool = False) -> None:
    """Return if this visitor may do `action`.

    Args:
        owner: the visitor started the current training (lets them stop it).

    Raises:
        PermissionDeniedError: with what to do instead.
    """
    if password_ok(password, settings) or (action == "stop" and owner):
        return
    if action == "train" and settings.private_training:
        return  # a private run: the model is the visitor's alone (store.SessionStore), nothing shared changes
    what = _WHAT[action]
    if settings.admin_password is not None:
        raise PermissionDeniedError(f"Wrong password. {what} needs the admin password on this deployment."
                                    if password else f"{what} needs the admin password on this deployment.")
    if action == "train" and settings.training_enabled:
        return  # training was switched on for everyone (a local run, or DLAPP_TRAINING=on on a Space)
    if action == "train":
        raise PermissionDeniedError("Training is switched off on this deployment (DLAPP_TRAINING=off). "
                                    "Its owner can set DLAPP_ADMIN_PASSWORD to train with a password.")
    if settings.public:
        raise PermissionDeniedError(f"{what} is not allowed on this public deployment. "
                                    "Its owner can set DLAPP_ADMIN_PASSWORD to do it with a password.")
