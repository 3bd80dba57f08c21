"""The generated-image audit end to end, on stand-ins made from LFW: real photos, stylised photos
(the "Style" category), photos of the wrong person labelled with an identity, a blank image."""




def test_the_page_says_what_a_method_row_pools():
    """Without category or prompt columns every prompt of a method is pooled: a sentence on the page says so."""
    from fr_eval.report.audit import _grouping_note
    assert "neither a category nor a prompt column" in _grouping_note({"manifest_columns": ["path", "method"],
                                                                       "grouped_by": ["method"]})[0]
    note = _grouping_note({"manifest_columns": ["method", "prompt"], "grouped_by": ["method", "prompt"]})[0]
    assert note.startswith("Figures per prompt in their own tables below") and "no category column" in note
