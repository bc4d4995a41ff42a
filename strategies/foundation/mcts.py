"""MCTS with PUCT over action prefixes, independent of what simulates them.

A node is identified by its *prefix*: the tuple of actions played from the episode's start.
Two small interfaces keep the core testable on a pure-python tree:

``Simulator.step_to(prefix) -> Outcome``
    the state reached by playing ``prefix`` (in training the browser simulator replays a training
    episode from its seed; at evaluation ``lookahead.AfterstateModel`` predicts it, never terminal;
    ``tests/test_strategy1_mcts.py`` walks a hand-made tree).
``Evaluator.evaluate(prefix, outcome) -> (actions, priors, value)``
    candidate actions at that state, the policy's prior over them and the value estimate.

The budget is counted in node expansions (simulator + evaluator calls on a new node): one
``search`` never expands more than ``simulations`` nodes, however the tree is shaped. Nodes
expanded by earlier searches of the same episode are reused (the tree lives across decisions).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Outcome:
    """A simulated state.  terminal: the episode ended there; reward: its final reward in [-1, 1]
    (0 for non-terminal states).  observation: whatever the evaluator needs.  page: which page
    (DOM tree) the state is on -- clicking a link moves the subtree to another page.
    """

    observation: Any = None
    terminal: bool = False
    reward: float = 0.0
    page: str = ""


class Simulator(Protocol):
    def step_to(self, prefix: tuple) -> Outcome: ...


class Evaluator(Protocol):
    def evaluate(self, prefix: tuple, outcome: Outcome) -> tuple[Sequence[Any], Sequence[float], float]: ...


@dataclass
class Node:
    prefix: tuple
    outcome: Outcome | None = None
    actions: list[Any] = field(default_factory=list)
    priors: list[float] = field(default_factory=list)
    value: float = 0.0  # evaluator estimate (terminal: the reward)
    visits: int = 0
    total: float = 0.0  # sum of backed-up values
    best: float = -math.inf  # best terminal reward found below this node

    @property
    def expanded(self) -> bool:
        return self.outcome is not None

    @property
    def terminal(self) -> bool:
        return self.outcome is not None and self.outcome.terminal

    @property
    def q(self) -> float:
        return self.total / self.visits if self.visits else 0.0


@dataclass
class SearchResult:
    """action: the most visited root action.  policy: visit share per root action (distillation target).
    expansions: nodes expanded by this search (<= the budget).  root: the root node after search.
    """

    action: Any
    index: int
    policy: list[float]
    expansions: int
    root: Node


class MCTS:
    """PUCT search: score(a) = Q(a) + c * P(a) * sqrt(sum_b N(b)) / (1 + N(a)).

    key: maps an action to a hashable key (nodes are stored by the keys of their prefix).
    win: a terminal reward above this is a solved episode; with ``stop_on_win`` the search stops
    there and commits to the winning root action (in training the simulator is the real,
    deterministic page, so the win is certain and the remaining budget would only cost time; the
    evaluation-time model has no terminal states, so it never finds one).
    """

    def __init__(
        self,
        simulator: Simulator,
        evaluator: Evaluator,
        simulations: int = 16,
        c_puct: float = 1.5,
        max_depth: int = 4,
        gamma: float = 1.0,
        key: Callable[[Any], Hashable] = lambda a: a,
        stop_on_win: bool = True,
        win: float = 0.0,
    ):
        if simulations < 1:
            raise ValueError("search needs a budget of at least one simulation")
        self.sim, self.evaluator = simulator, evaluator
        self.simulations, self.c_puct = int(simulations), float(c_puct)
        self.max_depth, self.gamma = int(max_depth), float(gamma)
        self.key = key
        self.stop_on_win, self.win = bool(stop_on_win), float(win)
        self.nodes: dict[tuple, Node] = {}

    # ------------------------------------------------------------------ tree
    def node(self, prefix: tuple) -> Node:
        k = tuple(self.key(a) for a in prefix)
        if k not in self.nodes:
            self.nodes[k] = Node(prefix=tuple(prefix))
        return self.nodes[k]

    def expand(self, node: Node) -> None:
        outcome = self.sim.step_to(node.prefix)
        node.outcome = outcome
        if outcome.terminal:
            node.value = float(outcome.reward)
            return
        actions, priors, value = self.evaluator.evaluate(node.prefix, outcome)
        total = float(sum(priors)) or 1.0
        node.actions = list(actions)
        node.priors = [float(p) / total for p in priors] if len(priors) else []
        node.value = float(value)

    def child(self, node: Node, i: int) -> Node:
        return self.node(node.prefix + (node.actions[i],))

    def puct_index(self, node: Node) -> int:
        kids = [self.nodes.get(tuple(self.key(a) for a in node.prefix + (act,))) for act in node.actions]
        visits = [k.visits if k else 0 for k in kids]
        scale = math.sqrt(sum(visits))
        best, best_score = 0, -math.inf
        for i, (kid, n, p) in enumerate(zip(kids, visits, node.priors)):
            q = kid.q if kid and n else 0.0
            # the tiny prior term breaks ties before any visit (sqrt(0) = 0) in the policy's favour
            score = q + self.c_puct * p * scale / (1 + n) + 1e-9 * p
            if score > best_score:
                best, best_score = i, score
        return best

    # ------------------------------------------------------------------ search
    def search(self, root_prefix: tuple = ()) -> SearchResult:
        root = self.node(tuple(root_prefix))
        expansions = 0
        if not root.expanded:
            self.expand(root)
            expansions += 1
        # a selection that reaches an already expanded leaf (depth limit, terminal) costs nothing,
        # so the loop is also bounded by a number of passes in case the reachable tree is exhausted
        for _ in range(4 * self.simulations + 8):
            if expansions >= self.simulations or root.terminal or not root.actions:
                break
            if len(root.actions) == 1 or (self.stop_on_win and root.best > self.win):
                break  # nothing to choose, or a solution is already known
            path, node, depth = [root], root, 0
            while node.expanded and not node.terminal and node.actions and depth < self.max_depth:
                node = self.child(node, self.puct_index(node))
                path.append(node)
                depth += 1
            if not node.expanded:
                self.expand(node)
                expansions += 1
            self.backup(path, node.value, node.value if node.terminal else -math.inf)
        return self.result(root, expansions)

    def backup(self, path: list[Node], value: float, terminal_reward: float = -math.inf) -> None:
        for node in reversed(path):
            node.visits += 1
            node.total += value
            node.best = max(node.best, terminal_reward)
            value *= self.gamma

    def result(self, root: Node, expansions: int) -> SearchResult:
        if root.terminal or not root.actions:
            return SearchResult(None, -1, [], expansions, root)
        kids = [self.nodes.get(tuple(self.key(a) for a in root.prefix + (act,))) for act in root.actions]
        visits = [k.visits if k else 0 for k in kids]
        total = sum(visits)
        policy = [v / total for v in visits] if total else list(root.priors)
        winners = [i for i, k in enumerate(kids) if k and k.best > self.win]
        if self.stop_on_win and winners:  # a solved branch: commit to it (and teach it, one-hot)
            index = max(winners, key=lambda i: (kids[i].best, visits[i]))
            policy = [float(i == index) for i in range(len(kids))]
        else:  # most visited; ties go to the better mean value, then the prior
            index = max(range(len(kids)), key=lambda i: (visits[i], kids[i].q if kids[i] else -math.inf, root.priors[i]))
        return SearchResult(root.actions[index], index, policy, expansions, root)
