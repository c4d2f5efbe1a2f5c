"""The project's tasks as their definitions on disk say now: those that load, and the broken ones with their
problems (named when a run asks for one)."""
from __future__ import annotations

from dataclasses import dataclass, field

from bundlegen.definition import DefinitionError, load_task
from bundlegen.project import Project


@dataclass(frozen=True)
class TaskCatalogue:
    loaded: dict = field(default_factory=dict)  # {task id: its loaded definition}
    broken: dict[str, list[str]] = field(default_factory=dict)  # {task id: the problems of its definition}

    @classmethod
    def load(cls, project: Project) -> "TaskCatalogue":
        """Every task definition, read again (an edited or fixed definition counts at once): a broken one is
        left out of `loaded` and kept in `broken`, to be named when asked for."""
        catalogue = cls()
        for task_id, folder in sorted(project.task_dirs().items()):
            try:
                catalogue.loaded[task_id] = load_task(folder, project)
            except DefinitionError as error:
                catalogue.broken[task_id] = error.problems
        return catalogue
