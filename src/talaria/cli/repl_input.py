"""The REPL's input line: prompt_toolkit session, keys, completion and toolbar."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

if TYPE_CHECKING:
    from talaria.cli.repl_session import ReplSession
    from talaria.commands.dispatch import Dispatcher


class SlashCompleter(Completer):
    """Completes ``/commands`` and, for some, their first argument."""

    def __init__(self, session: ReplSession, dispatcher: Dispatcher) -> None:
        self.session = session
        self.dispatcher = dispatcher

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        head, sep, arg = text.partition(" ")
        if not sep:
            for word in self.dispatcher.command_words():
                if word.startswith(head):
                    yield Completion(word, start_position=-len(head))
            return
        for option in self._arguments(head[1:]):
            if option.startswith(arg):
                yield Completion(option, start_position=-len(arg))

    def _arguments(self, command: str) -> list[str]:
        cmd = self.dispatcher.registry.get(command)
        name = cmd.name if cmd else command
        cfg = self.session.settings.config
        if name == "model":
            return sorted({cfg.model.name, *(m.name for m in cfg.delegation.models)})
        if name == "help":
            return [w[1:] for w in self.dispatcher.command_words()]
        if name == "resume":
            return list(self.session.recent_ids)
        return []


def build_prompt(session: ReplSession, dispatcher: Dispatcher) -> PromptSession[str]:
    kb = KeyBindings()

    @kb.add("enter")
    def _(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.text.endswith("\\"):
            buf.delete_before_cursor(1)
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @kb.add("escape", "enter")
    def _(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    def _(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.text:
            buf.reset()  # Ctrl-C clears a line; on an empty line it counts toward exit
        else:
            event.app.exit(exception=KeyboardInterrupt())

    def toolbar() -> Any:
        u = session.usage
        cost = "" if u.cost_usd is None else f"  ${u.cost_usd:.4f}"
        title = session.title or (session.session_id[:8] if session.session_id else "new session")
        tokens = u.input_tokens + u.output_tokens
        return f" {session.model_label()}  │  {title}  │  {tokens:,} tokens{cost}"

    history_file = session.settings.paths.home / "history"
    session.settings.paths.ensure_home()
    return PromptSession(
        message="› ",
        multiline=True,
        key_bindings=kb,
        history=FileHistory(str(history_file)),
        completer=SlashCompleter(session, dispatcher),
        complete_while_typing=True,
        bottom_toolbar=toolbar,
        prompt_continuation="  ",
    )
