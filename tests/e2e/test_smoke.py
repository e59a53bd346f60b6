from tests.harness import PbxProcess


def test_login_and_deviceinfo(pbx: PbxProcess) -> None:
    token = pbx.login()
    info = pbx.api("deviceinfo/query", token=token)
    assert info["status"] == "Success"
    assert info["deviceinfo"]["sn"]
