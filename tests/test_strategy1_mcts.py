"""Strategy 1 tree search on hand-made trees (pure python: no browser, no model)."""
from __future__ import annotations

import math
import random

import pytest

from strategies.foundation.mcts import MCTS, Outcome

# A two-page site.  On the start page, "ad" and "about" end the episode badly; "shop" is a link
# whose click loads a second page (its own tree) where only "buy" wins.  The policy prior
# prefers the wrong actions, so only search can find "shop" -> "buy".
SITE = {
    "start": {"page": "home", "children": {"ad": "lose", "about": "lose2", "shop": "shop_page"}},
    "shop_page": {"page": "shop", "children": {"back": "lose3", "buy": "win", "cart": "meh"}},
    "lose": {"terminal": -1.0}, "lose2": {"terminal": -1.0}, "lose3": {"terminal": -1.0},
    "win": {"terminal": 1.0}, "meh": {"terminal": 0.0},
}
MISLEADING_PRIOR = {"ad": 0.6, "about": 0.3, "shop": 0.1, "back": 0.5, "cart": 0.4, "buy": 0.1}


class TreeSimulator:
    def __init__(self, site: dict, root: str = "start"):
        self.site, self.root = site, root
        self.calls = 0

    def step_to(self, prefix: tuple) -> Outcome:
        self.calls += 1
        node = self.root
        for action in prefix:
            node = self.site[node]["children"][action]
        spec = self.site[node]
        if "terminal" in spec:
            return Outcome(node, True, spec["terminal"], "end")
        return Outcome(node, False, 0.0, spec["page"])


class PriorEvaluator:
    """Children of the node with a fixed prior; value 0 everywhere (the search must find the reward)."""

    def __init__(self, site: dict, prior: dict[str, float] | None = None):
        self.site, self.prior, self.calls = site, prior or {}, 0

    def evaluate(self, prefix: tuple, outcome: Outcome):
        self.calls += 1
        actions = list(self.site[outcome.observation]["children"])
        return actions, [self.prior.get(a, 1.0) for a in actions], 0.0


def test_search_finds_the_link_then_the_winning_action_despite_a_misleading_prior():
    sim = TreeSimulator(SITE)
    search = MCTS(sim, PriorEvaluator(SITE, MISLEADING_PRIOR), simulations=12, c_puct=1.5, max_depth=4)
    first = search.search(())
    assert first.action == "shop"
    assert first.policy[first.root.actions.index("shop")] == max(first.policy)
    # the link leads to another page's tree: the child node is on page "shop"
    assert search.node(("shop",)).outcome.page == "shop"
    second = search.search(("shop",))
    assert second.action == "buy"
    assert search.node(("shop", "buy")).value == 1.0


def test_puct_formula_picks_by_q_plus_prior_bonus():
    search = MCTS(TreeSimulator(SITE), PriorEvaluator(SITE, MISLEADING_PRIOR), simulations=1, c_puct=2.0)
    root = search.node(())
    search.expand(root)
    # visits so far: ad 3 (mean -1), about 0, shop 1 (mean 0.5)
    for action, n, total in (("ad", 3, -3.0), ("shop", 1, 0.5)):
        kid = search.node((action,))
        kid.visits, kid.total = n, total
    priors = dict(zip(root.actions, root.priors))
    scores = {a: (search.node((a,)).q if search.node((a,)).visits else 0.0)
              + 2.0 * priors[a] * math.sqrt(4) / (1 + search.node((a,)).visits) for a in root.actions}
    assert root.actions[search.puct_index(root)] == max(scores, key=scores.get)


def random_tree(rng: random.Random, depth: int, branching: int) -> dict:
    site, counter = {}, [0]

    def grow(name: str, d: int) -> None:
        if d == depth or rng.random() < 0.15:
            site[name] = {"terminal": rng.choice([-1.0, 0.0, 1.0])}
            return
        kids = {}
        for _ in range(rng.randint(1, branching)):
            counter[0] += 1
            child = f"n{counter[0]}"
            kids[f"a{counter[0]}"] = child
            grow(child, d + 1)
        site[name] = {"page": f"p{d}", "children": kids}

    grow("start", 0)
    return site


@pytest.mark.parametrize("budget", [1, 3, 8, 25])
@pytest.mark.parametrize("tree_seed", [0, 1, 2])
def test_search_never_exceeds_its_node_budget(budget, tree_seed):
    site = random_tree(random.Random(tree_seed), depth=5, branching=4)
    sim, ev = TreeSimulator(site), PriorEvaluator(site)
    search = MCTS(sim, ev, simulations=budget, max_depth=5)
    result = search.search(())
    assert result.expansions <= budget
    assert sim.calls <= budget and ev.calls <= budget
    assert sum(n.expanded for n in search.nodes.values()) <= budget
    if result.root.actions:
        assert abs(sum(result.policy) - 1.0) < 1e-6
    # a second decision reuses the tree and again spends at most its own budget
    if result.action is not None and not search.node((result.action,)).terminal:
        before = sim.calls
        again = search.search((result.action,))
        assert again.expansions <= budget and sim.calls - before <= budget


def test_small_tree_is_exhausted_without_spinning():
    site = {"start": {"page": "p", "children": {"x": "end", "y": "end2"}},
            "end": {"terminal": 1.0}, "end2": {"terminal": -1.0}}
    sim = TreeSimulator(site)
    result = MCTS(sim, PriorEvaluator(site), simulations=50, stop_on_win=False).search(())
    assert result.action == "x" and result.expansions == 3 and sim.calls == 3


def test_stop_on_win_commits_to_the_solution_and_saves_budget():
    sim = TreeSimulator(SITE)
    search = MCTS(sim, PriorEvaluator(SITE, {"shop": 0.9, "buy": 0.9}), simulations=50)
    result = search.search(())
    assert result.action == "shop" and result.policy == [0.0, 0.0, 1.0]
    assert result.expansions < 50  # root, shop page, win: it stopped as soon as the win was found
    assert search.search(("shop",)).action == "buy"


def test_a_single_candidate_needs_no_simulation():
    site = {"start": {"page": "p", "children": {"only": "end"}}, "end": {"terminal": -1.0}}
    sim = TreeSimulator(site)
    result = MCTS(sim, PriorEvaluator(site), simulations=10).search(())
    assert result.action == "only" and result.expansions == 1 and sim.calls == 1


# A larger site, 3 actions deep with 4 choices per page (85 nodes): a budget of 12 expansions
# cannot visit it all.  Only "c" -> "c2" -> "c2b" wins.  The prior is informative but not decisive
# ("a" is the policy's favourite), and the value estimates of inner pages point to the winning branch.
def deep_site() -> tuple[dict, dict[str, float], dict[str, float]]:
    site: dict = {}
    prior: dict[str, float] = {}
    values: dict[str, float] = {}
    root_prior = {"a": 0.4, "b": 0.15, "c": 0.3, "d": 0.15}
    site["start"] = {"page": "home", "children": {k: k for k in root_prior}}
    prior.update(root_prior)
    for k in root_prior:
        kids = {f"{k}{i}": f"{k}{i}" for i in range(1, 5)}
        site[k] = {"page": f"page-{k}", "children": kids}
        values[k] = 0.6 if k == "c" else -0.3
        for i, kid in enumerate(kids, start=1):
            prior[kid] = 0.25
            values[kid] = 0.7 if kid == "c2" else -0.4
            leaves = {f"{kid}{x}": f"{kid}{x}" for x in "abcd"}
            site[kid] = {"page": f"page-{kid}", "children": leaves}
            for leaf in leaves:
                prior[leaf] = 0.25
                site[leaf] = {"terminal": 1.0 if leaf == "c2b" else -1.0}
    return site, prior, values


class ValueEvaluator(PriorEvaluator):
    """Fixed priors and a value estimate per state (0 where none is given)."""

    def __init__(self, site: dict, prior: dict[str, float], values: dict[str, float]):
        super().__init__(site, prior)
        self.values = values

    def evaluate(self, prefix: tuple, outcome: Outcome):
        actions, priors, _ = super().evaluate(prefix, outcome)
        return actions, priors, self.values.get(outcome.observation, 0.0)


def test_puct_finds_the_best_action_in_a_tree_larger_than_its_budget():
    site, prior, values = deep_site()
    assert len(site) == 85
    sim = TreeSimulator(site)
    search = MCTS(sim, ValueEvaluator(site, prior, values), simulations=12, c_puct=1.0, max_depth=3)
    result = search.search(())
    assert result.action == "c" and result.expansions <= 12
    assert sum(n.expanded for n in search.nodes.values()) <= 12 < len(site)
    # the next decisions (each with its own budget, the tree reused) follow the branch to the win
    assert search.search(("c",)).action == "c2" and search.search(("c", "c2")).action == "c2b"
    assert search.node(("c", "c2", "c2b")).value == 1.0


def test_without_the_leaf_values_the_same_budget_follows_the_prior():
    site, prior, _ = deep_site()
    search = MCTS(TreeSimulator(site), ValueEvaluator(site, prior, {}), simulations=6, c_puct=1.0, max_depth=3)
    assert search.search(()).action == "a"  # no win found in 6 expansions: the favourite keeps the most visits


def test_a_leaf_value_changes_the_choice():
    # two pages, neither ends the episode within the budget: only the value estimate can tell them apart
    site = {"start": {"page": "home", "children": {"x": "px", "y": "py"}}}
    for name in ("px", "py"):
        site[name] = {"page": name, "children": {f"{name}-more": f"{name}-deep"}}
        site[f"{name}-deep"] = {"page": name, "children": {f"{name}-end": "end"}}
    site["end"] = {"terminal": 0.0}
    prior = {"x": 0.6, "y": 0.4}

    def choose(values: dict[str, float]) -> str:
        search = MCTS(TreeSimulator(site), ValueEvaluator(site, prior, values), simulations=3, c_puct=1.0,
                      max_depth=3, stop_on_win=False)
        result = search.search(())
        assert result.expansions == 3 and all(not n.terminal for n in search.nodes.values())
        return result.action

    assert choose({}) == "x"  # no value information: the prior decides
    assert choose({"px": -0.5, "py": 0.5}) == "y"  # the leaf value overrules the prior
    assert choose({"px": 0.5, "py": -0.5}) == "x"
