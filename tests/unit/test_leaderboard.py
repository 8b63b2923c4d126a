import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.leaderboard import (
    RankRow,
    Standing,
    excerpt,
    find,
    per_capita,
    rank,
    top,
    top3_changes,
    top3_may_change,
)
from bot.services import stats
from bot.services.standings import Board, TeamGroup, TeamMember


def s(key: str, amount: int = 0, deals: int = 0, members: int = 1, name: str | None = None) -> Standing:
    return Standing(key=key, name=name or key, amount_minor=amount, deals=deals, members=members)


def keys(rows: list[RankRow]) -> list[str]:
    return [row.standing.key for row in rows]


# --- rank -------------------------------------------------------------------------------------------


def test_rank_by_amount_with_competition_ranking() -> None:
    rows = rank([s("c", 300), s("a", 500), s("b", 500), s("d", 100)], "amount")
    assert keys(rows) == ["a", "b", "c", "d"]
    assert [r.rank for r in rows] == [1, 1, 3, 4]
    assert [r.value for r in rows] == [500, 500, 300, 100]


def test_gap_to_next_is_what_is_needed_to_strictly_pass() -> None:
    rows = rank([s("a", 500), s("b", 500), s("c", 300), s("d", 300), s("e", 100)], "amount")
    assert [r.gap_to_next for r in rows] == [None, None, 201, 201, 201]
    rows = rank([s("a", 1000), s("b", 400)], "amount")
    assert rows[1].gap_to_next == 601


def test_ties_break_on_the_other_metric_then_name_then_key() -> None:
    standings = [
        s("member:3", 500, deals=1, name="Carol"),
        s("member:1", 500, deals=4, name="Zed"),
        s("member:2", 500, deals=1, name="Alice"),
        s("member:9", 500, deals=1, name="Alice"),
        s("member:4", 500, deals=1, name="Alice"),
    ]
    rows = rank(standings, "amount")
    assert keys(rows) == ["member:1", "member:2", "member:4", "member:9", "member:3"]
    assert {r.rank for r in rows} == {1}
    assert all(r.gap_to_next is None for r in rows)


def test_rank_by_deals_breaks_ties_by_amount() -> None:
    rows = rank([s("a", 100, deals=3), s("b", 900, deals=3), s("c", 5000, deals=1)], "deals")
    assert keys(rows) == ["b", "a", "c"]
    assert [r.value for r in rows] == [3, 3, 1]
    assert [r.rank for r in rows] == [1, 1, 3]
    assert rows[2].gap_to_next == 3


def test_per_capita_rounds_half_up_and_handles_empty_groups() -> None:
    assert per_capita(1000, 3) == 333
    assert per_capita(1001, 2) == 501  # 500.5 -> 501
    assert per_capita(1000, 4) == 250
    assert per_capita(5, 2) == 3
    assert per_capita(-5, 2) == -3
    assert per_capita(1000, 0) == 0
    assert per_capita(0, 5) == 0


def test_rank_groups_per_capita() -> None:
    groups = [
        s("group:1", 900_000, deals=9, members=3, name="狼队"),  # 300,000 each
        s("group:2", 1_000_000, deals=5, members=5, name="虎队"),  # 200,000 each
        s("group:3", 600_000, deals=2, members=2, name="鹰队"),  # 300,000 each, less in total
        s("group:4", 0, members=0, name="空队"),
    ]
    rows = rank(groups, "per_capita")
    assert keys(rows) == ["group:1", "group:3", "group:2", "group:4"]
    assert [r.value for r in rows] == [300_000, 300_000, 200_000, 0]
    assert [r.rank for r in rows] == [1, 1, 3, 4]
    assert rows[2].gap_to_next == 100_001


def test_zero_rows_are_included_and_rank_last() -> None:
    rows = rank([s("idle1"), s("star", 100, 1), s("idle2")], "amount")
    assert keys(rows) == ["star", "idle1", "idle2"]
    assert [r.rank for r in rows] == [1, 2, 2]
    assert rows[1].gap_to_next == 101


def test_rank_of_nothing() -> None:
    assert rank([], "amount") == []


def test_unknown_metric() -> None:
    with pytest.raises(ValueError):
        rank([s("a")], "volume")  # type: ignore[arg-type]


def test_find_and_top() -> None:
    rows = rank([s(k, amount) for k, amount in [("a", 5), ("b", 4), ("c", 3), ("d", 2)]], "amount")
    found = find(rows, "c")
    assert found is not None
    assert (found.rank, found.value) == (3, 3)
    assert find(rows, "zzz") is None
    assert keys(top(rows, 2)) == ["a", "b"]
    assert top(rows, 10) == rows
    assert top(rows, 0) == []
    assert top(rows, -1) == []


# --- top3_changes -----------------------------------------------------------------------------------


def board(*pairs: tuple[str, int]) -> list[RankRow]:
    return rank([s(k, amount) for k, amount in pairs], "amount")


def test_no_change_when_top3_order_is_unchanged() -> None:
    before = board(("alice", 500), ("bob", 400), ("carol", 300), ("dave", 100))
    after = board(("alice", 900), ("bob", 450), ("carol", 300), ("dave", 250))
    assert top3_changes(before, after) == []


def test_bob_overtakes_alice_for_first() -> None:
    before = board(("alice", 500), ("bob", 400), ("carol", 300))
    after = board(("alice", 500), ("bob", 600), ("carol", 300))
    assert top3_changes(before, after) == [("bob", "alice", 1)]


def test_a_jump_reports_the_best_placed_entry_passed() -> None:
    before = board(("alice", 500), ("bob", 400), ("carol", 300), ("dave", 200), ("eve", 100))
    after = board(("alice", 500), ("bob", 400), ("carol", 300), ("dave", 200), ("eve", 450))
    assert top3_changes(before, after) == [("eve", "bob", 2)]


def test_entering_third_place() -> None:
    before = board(("alice", 500), ("bob", 400), ("carol", 300), ("dave", 200))
    after = board(("alice", 500), ("bob", 400), ("carol", 300), ("dave", 350))
    assert top3_changes(before, after) == [("dave", "carol", 3)]


def test_movement_below_the_top3_is_not_news() -> None:
    before = board(("a", 500), ("b", 400), ("c", 300), ("d", 200), ("e", 100))
    after = board(("a", 500), ("b", 400), ("c", 300), ("d", 200), ("e", 250))
    assert top3_changes(before, after) == []


def test_newcomer_passing_people() -> None:
    before = board(("alice", 500), ("bob", 400))
    after = board(("alice", 500), ("bob", 400), ("zoe", 700))
    assert top3_changes(before, after) == [("zoe", "alice", 1)]


def test_passing_someone_with_nothing_is_not_news() -> None:
    # everyone at zero, ordered by name; zed's first deal puts him first but he beat nobody
    before = board(("alice", 0), ("bob", 0), ("zed", 0))
    after = board(("alice", 0), ("bob", 0), ("zed", 100))
    assert top3_changes(before, after) == []


def test_reaching_a_tie_is_not_overtaking() -> None:
    before = board(("alice", 500), ("bob", 400))
    after = rank([s("alice", 500, deals=1), s("bob", 500, deals=2)], "amount")
    assert keys(after) == ["bob", "alice"]  # listed first by the tie-break, but not ahead
    assert top3_changes(before, after) == []


def test_several_changes_are_listed_best_rank_first() -> None:
    before = board(("a", 500), ("b", 400), ("c", 300), ("d", 200))
    after = board(("a", 500), ("b", 600), ("c", 300), ("d", 350))
    assert top3_changes(before, after) == [("b", "a", 1), ("d", "c", 3)]


def test_a_void_can_drop_someone_out() -> None:
    before = board(("alice", 500), ("bob", 400), ("carol", 300))
    after = board(("alice", 100), ("bob", 400), ("carol", 300))
    assert top3_changes(before, after) == [("bob", "alice", 1), ("carol", "alice", 2)]


def test_same_boards_have_no_changes() -> None:
    rows = board(("a", 3), ("b", 2), ("c", 1), ("d", 1))
    assert top3_changes(rows, rows) == []
    assert top3_changes([], []) == []
    assert top3_changes([], rows) == []


# --- properties ---------------------------------------------------------------------------------------

standings = st.lists(
    st.builds(
        Standing,
        key=st.text(alphabet="abcdef:0123", min_size=1, max_size=6),
        name=st.text(alphabet="AaBb狼虎 ", max_size=4),
        amount_minor=st.integers(min_value=0, max_value=10_000),
        deals=st.integers(min_value=0, max_value=5),
        members=st.integers(min_value=0, max_value=4),
    ),
    max_size=12,
    unique_by=lambda x: x.key,
)
metrics = st.sampled_from(["amount", "deals", "per_capita"])


@given(standings, metrics)
def test_ranking_is_a_permutation(items: list[Standing], metric: str) -> None:
    rows = rank(items, metric)  # type: ignore[arg-type]
    assert sorted(keys(rows)) == sorted(x.key for x in items)
    assert len(rows) == len(items)


@given(standings, metrics, st.randoms())
def test_ranking_ignores_input_order(items: list[Standing], metric: str, rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert rank(shuffled, metric) == rank(items, metric)  # type: ignore[arg-type]


@given(standings, metrics)
def test_rank_invariants(items: list[Standing], metric: str) -> None:
    rows = rank(items, metric)  # type: ignore[arg-type]
    for position, row in enumerate(rows, start=1):
        assert row.rank == 1 + sum(1 for other in rows if other.value > row.value)
        assert row.rank <= position
        if row.rank == 1:
            assert row.gap_to_next is None
        else:
            above = min(other.value for other in rows if other.value > row.value)
            assert row.gap_to_next == above - row.value + 1
            assert row.gap_to_next > 0
    assert [r.value for r in rows] == sorted((r.value for r in rows), reverse=True)


@given(
    standings, metrics, st.integers(min_value=0, max_value=14), st.text(alphabet="abcdef:0123", max_size=6)
)
def test_an_excerpt_is_the_boards_top_and_the_entrys_row(
    items: list[Standing], metric: str, n: int, key: str
) -> None:
    rows = rank(items, metric)  # type: ignore[arg-type]
    assert excerpt(items, metric, n, key) == (top(rows, n), find(rows, key), len(items))  # type: ignore[arg-type]


def test_an_excerpt_of_a_board_of_two_hundred() -> None:
    board = [s(f"member:{i}", amount=(i * 37) % 500, deals=i % 7) for i in range(200)]
    shown = excerpt(board, "amount", 10, "member:57")
    assert keys(shown.top) == keys(rank(board, "amount"))[:10]
    assert shown.own == find(rank(board, "amount"), "member:57")
    assert shown.ranked == 200
    assert excerpt(board, "amount", 10, "member:999").own is None


@given(standings, standings, metrics)
def test_top3_changes_only_name_top3_overtakers(a: list[Standing], b: list[Standing], metric: str) -> None:
    before, after = rank(a, metric), rank(b, metric)  # type: ignore[arg-type]
    changes = top3_changes(before, after)
    overtakers = [c[0] for c in changes]
    assert len(overtakers) == len(set(overtakers))
    for overtaker, overtaken, new_rank in changes:
        row = find(after, overtaker)
        passed = find(after, overtaken)
        assert row is not None and passed is not None
        assert row.rank == new_rank <= 3
        assert passed.rank > row.rank
    if keys(before)[:3] == keys(after)[:3]:
        assert changes == []


# A team as a deal's announcement sees it: members (some in groups) with small, often tied totals, and
# one deal by a member (maybe no longer on the roster), of any amount (negative ones too).
rosters = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from([None, 1, 2, 3])), max_size=7)
deal_totals = st.dictionaries(
    st.integers(min_value=0, max_value=8),
    st.tuples(st.integers(min_value=-3, max_value=4), st.integers(min_value=0, max_value=3)),
)


@settings(max_examples=1000)
@given(rosters, deal_totals, st.integers(min_value=0, max_value=8), st.integers(min_value=-3, max_value=4))
def test_top3_may_change_is_false_only_where_the_full_comparison_finds_nothing(
    people: list[tuple[str, int | None]], totals: dict[int, tuple[int, int]], member_id: int, amount: int
) -> None:
    """The announcer skips ranking a deal's before-boards where `top3_may_change` says so: the full
    comparison (`top3_changes` of the boards before and after the deal) must then be empty, on the
    people board and on the group board alike."""
    members = [TeamMember(i, f"u{i}", name, group) for i, (name, group) in enumerate(people)]
    groups = [TeamGroup(g, f"G{g % 2}", "") for g in (1, 2, 3)]
    before_amount, before_deals = totals.get(member_id, (0, 0))
    after = {**totals, member_id: (before_amount + amount, before_deals + 1)}
    moved = next((m for m in members if m.id == member_id), None)
    boards = [
        (stats.people_standings, f"member:{member_id}"),
        (
            lambda ms, t: stats.group_standings(groups, ms, t),
            moved and moved.group_id and f"group:{moved.group_id}",
        ),
    ]
    for standings_of, moved_key in boards:
        after_rows = rank(standings_of(members, after), "amount")
        changes = top3_changes(rank(standings_of(members, totals), "amount"), after_rows)
        if not top3_may_change(after_rows, moved_key or None, amount):
            assert changes == []


@pytest.mark.parametrize(
    ("after", "moved", "gain", "may"),
    [
        ([s("a", 9), s("b", 8), s("c", 7), s("d", 1)], "c", 5, True),  # in third place: maybe news
        ([s("a", 9), s("b", 8), s("c", 7), s("d", 1)], "d", 1, False),  # below the top 3: no news
        ([s("a", 9), s("b", 8), s("c", 7), s("d", 1)], None, 1, False),  # nobody on the board moved
        ([s("a", 9), s("b", 8), s("c", 7), s("d", 1)], "d", -1, True),  # a drop: others may pass
    ],
)
def test_top3_may_change_table(after: list[Standing], moved: str | None, gain: int, may: bool) -> None:
    assert top3_may_change(rank(after, "amount"), moved, gain) is may


@given(rosters, deal_totals)
def test_a_boards_leaders_and_top_are_its_full_ranking_cut(
    people: list[tuple[str, int | None]], totals: dict[int, tuple[int, int]]
) -> None:
    """Announcements rank only the members who sold (`leaders`): exactly the full board's rows above 0,
    and `people_top(n)` exactly its first n rows."""
    members = [TeamMember(i, f"u{i}", name, group) for i, (name, group) in enumerate(people)]
    board = Board(None, None, members, [], totals)  # type: ignore[arg-type]  # ranking reads neither
    full = rank(stats.people_standings(members, totals), "amount")
    assert board.leaders() == [row for row in full if row.value > 0]
    for n in range(5):
        assert board.people_top(n) == full[:n]
