def test_accounts_list__merchant__sees_own(merchant_client, account, other_account):
    response = merchant_client.get("/api/v1/accounts/")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [account.pk]
