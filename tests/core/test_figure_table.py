"""A chart's numbers as a table: its text alternative."""

from apps.core.templatetags.page import figure_table


def test_it_lists_each_category_with_a_column_per_trace():
    figure = {
        "data": [
            {
                "type": "bar",
                "name": "Claims",
                "x": ["2026-10", "2026-11"],
                "y": [1200.5, 3],
            },
            {"type": "bar", "name": "Health", "x": ["2026-11"], "y": [40000]},
        ]
    }
    assert figure_table(figure) == {
        "columns": ["Claims", "Health"],
        "rows": [("2026-10", ["1,200.50", ""]), ("2026-11", ["3", "40,000"])],
    }


def test_it_reads_pie_labels_and_horizontal_bars():
    pie = {
        "data": [
            {"type": "pie", "name": "Use-cases", "labels": ["Hybrid"], "values": [2]}
        ]
    }
    assert figure_table(pie)["rows"] == [("Hybrid", ["2"])]
    bars = {
        "data": [{"name": "Spend", "orientation": "h", "y": ["Router"], "x": [9.5]}]
    }
    assert figure_table(bars)["rows"] == [("Router", ["9.50"])]


def test_nothing_to_tabulate_gives_no_table():
    assert figure_table(None) is None
    assert figure_table({"data": []}) is None
