-- Bulk awards (issue 18): fewer index entries a credit, by updates that stay on their row's page.
--
-- 1. A credit to a resident seen for the first time inserts the account's balance row and, in
--    the same chunk, the ledger's door updates it. Inserted rows filled their pages (fillfactor
--    100), so that update found no room on the row's page: a new row version on another page and
--    a new entry in account_balances_pkey for every new resident (200,100 updates, 99 of them
--    HOT, in a 200,000-row award). With half of each page left free the update stays on the
--    row's page and touches no index (the table's one index is its key, which no update
--    changes); so does any balance row's next update, once the page is pruned.
-- 2. award_rows (fillfactor 50 since 20261205100000_award_ids_in_line_order): a credited row is
--    longer than the pending row it was (its transaction id, a longer status), so half a page
--    held the new versions of only about five rows in six (166,197 of 200,000 updates HOT); the
--    others were new versions elsewhere with entries in both of the table's indexes. 40: all.
-- Both for pages written from now on.
ALTER TABLE account_balances SET (fillfactor = 50);
ALTER TABLE award_rows SET (fillfactor = 40);
