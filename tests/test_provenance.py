from lth_tf import provenance


def test_provenance_names_commit_libraries_and_devices():
    record = provenance.collect()
    assert len(record["git_commit"]) in (0, 40)
    assert record["libraries"]["tensorflow"].startswith("2.")
    assert any(d.startswith("CPU:") for d in record["devices"])
    assert isinstance(record["git_dirty"], bool)
