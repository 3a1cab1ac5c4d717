"""The official mail directory (thư điện tử công vụ): the ldap3 reader and the lookup the decisions ask."""
